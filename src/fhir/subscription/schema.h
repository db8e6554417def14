// Tables of rest-hook notifications (migrations module "fhir_subscription").
#pragma once

#include <vector>

#include "store/migrations.h"

namespace chtlink::fhir::subscription {

std::vector<store::Migration> migrations();

}  // namespace chtlink::fhir::subscription
