"""Repayment plans with the borrower.

- `offers`: a loan's debt and options, making, approving and accepting offers, the
  borrower's messages on the case page.
- `tracking`: the daily look at offers and plans (expired, kept, broken).
- `agreements`: the accepted plan's agreement (PDF, zh_CN and en) the borrower confirms
  with a one-time code and downloads from the portal.
- `portal_sign_in`: the borrower's one-time code and session.
- `portal`: what a signed-in borrower sees and tells us.
- `promises`: promises to pay judged from the payments that followed.
- `holds`: every change these make to a case's state or hold.
"""
