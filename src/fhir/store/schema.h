// The FHIR store's tables (migrations module "fhir").
#pragma once

#include <vector>

#include "store/migrations.h"

namespace chtlink::fhir {

std::vector<store::Migration> migrations();

}  // namespace chtlink::fhir
