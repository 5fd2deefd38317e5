"""Repayment plans with the borrower.

- `offers`: a loan's debt and options, making, approving, accepting and tracking offers,
  the borrower's messages on the case page.
- `portal_sign_in`: the borrower's one-time code and session.
- `portal`: what a signed-in borrower sees and tells us.
- `promises`: promises to pay judged from the payments that followed.
- `holds`: every change these make to a case's state or hold.
"""
