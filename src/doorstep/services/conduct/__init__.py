"""Conduct: the rules in use (`rules`: decisions, holds, compliance report, retention),
the audit trail (`audit`) and personal data at rest (`personal_data`)."""
