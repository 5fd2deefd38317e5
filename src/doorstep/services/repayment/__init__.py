"""repayment services."""
