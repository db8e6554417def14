// cht-sim's seed data: the app_settings a fresh emulator starts with.
#pragma once

#include <string>

#include "base/result.h"
#include "cht/emulator/cht_sim.h"
#include "cht/outbound/js_json.h"

namespace chtlink::cht::emulator {

// With options.seed_ltfu: the reference LTFU settings (cht.md 4.2, 4.5: transitions, roles,
// permissions, the INTEROP_FOLLOW_UP form and the three outbound configs pointing at
// options.router_url). Otherwise the same roles and permissions without outbound.
Result<outbound::OrderedJson> seedSettings(const ChtSimOptions& options);

// sha256(salt + password), hex: how cht-sim stores user passwords.
std::string passwordHash(const std::string& salt, const std::string& password);

}  // namespace chtlink::cht::emulator
