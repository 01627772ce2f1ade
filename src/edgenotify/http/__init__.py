"""HTTP plumbing independent of any runtime: request/response values, errors, routing."""
