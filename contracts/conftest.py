"""The acscontract contract suite. The `acscontract` pytest plugin (installed with acscontract)
supplies the options, fixtures and summary; run it with `acscontract run`, or with
`pytest --pyargs` on this folder and the `--acscontract-*` options."""
