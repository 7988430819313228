"""acscontract: contract testing, emulation and RAM policy validation for Alibaba Cloud OpenAPI."""
