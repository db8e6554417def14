// chtlink: one binary for the CHT <-> FHIR interoperability stack. See README.md.
#include "cli/app.h"

int main(int argc, char** argv) { return chtlink::cli::run(argc, argv); }
