"""lender services."""
