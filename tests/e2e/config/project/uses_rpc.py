from legacy_rpc import call
