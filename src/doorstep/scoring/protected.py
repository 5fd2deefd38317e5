"""The protected attributes: refused as model inputs wherever a column name denotes one.

They belong in the fairness report (`doorstep.scoring.fairness`), never in a score.
`protected_attribute` recognises a column name in English (any case and separator style)
or Chinese; `check_allowed` refuses names, and names derived from protected sources.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

from doorstep.domain.errors import ProtectedFeatureError

__all__ = ["PROTECTED", "check_allowed", "protected_attribute"]

PROTECTED: Mapping[str, str] = {
    "sex": "sex/gender",
    "age": "age",
    "marital_status": "marital status",
    "ethnicity": "ethnicity",
    "household_registration": "household-registration region",
    "national_id": "national ID (encodes birth date, sex and registration region)",
}
"""The protected attributes, by key, with a human description."""

# Words that make a column protected wherever they appear in its name.
_WORDS: Mapping[str, str] = {
    "sex": "sex",
    "gender": "sex",
    "marriage": "marital_status",
    "marital": "marital_status",
    "married": "marital_status",
    "spouse": "marital_status",
    "ethnicity": "ethnicity",
    "ethnic": "ethnicity",
    "race": "ethnicity",
    "minzu": "ethnicity",
    "hukou": "household_registration",
    "birth": "age",
    "birthday": "age",
    "birthdate": "age",
    "dob": "age",
}
# Whole names (lower case, separators removed) that are protected.
_NAMES: Mapping[str, str] = {
    "age": "age",
    "ages": "age",
    "ageyears": "age",
    "ageband": "age",
    "agegroup": "age",
    "agebucket": "age",
    "yearofbirth": "age",
    "nation": "ethnicity",
    "nationality": "ethnicity",
    "householdregistration": "household_registration",
    "householdregion": "household_registration",
    "householdaddress": "household_registration",
    "registrationregion": "household_registration",
    "registeredresidence": "household_registration",
    "idnumber": "national_id",
    "idno": "national_id",
    "idcard": "national_id",
    "nationalid": "national_id",
    "residentid": "national_id",
}
# The person-words after which "age" is the person's age ("borrower_age", "CustomerAge").
_AGE_OWNERS = frozenset(
    {"borrower", "customer", "applicant", "client", "holder", "cardholder", "person", "debtor"}
)
# With "household": the household-registration place, not the household's size or income.
_HOUSEHOLD = frozenset(
    {"registration", "registered", "register", "region", "address", "province", "city", "origin"}
)
# Chinese names: a protected attribute wherever the fragment appears.
_ZH: Mapping[str, str] = {
    "性别": "sex",
    "年龄": "age",
    "出生": "age",
    "生日": "age",
    "婚": "marital_status",
    "配偶": "marital_status",
    "民族": "ethnicity",
    "种族": "ethnicity",
    "户籍": "household_registration",
    "户口": "household_registration",
    "身份证": "national_id",
}
_TOKEN = re.compile(r"[A-Z]+(?=[A-Z][a-z]|\d|\b|_|$)|[A-Z]?[a-z]+|\d+")


def _tokens(name: str) -> list[str]:
    ascii_part = unicodedata.normalize("NFKC", name)
    return [t.lower() for t in _TOKEN.findall(ascii_part)]


def protected_attribute(name: str) -> str | None:
    """The protected attribute key (see `PROTECTED`) that a column name denotes, or None.

    Recognises English names in any case and separator style (``SEX``, ``MaritalStatus``,
    ``borrower_age``, ``household-registration region``) and Chinese names (``性别``,
    ``婚姻状况``, ``户籍所在地``). "age" alone, first (``age_at_application``) or after a
    person word is protected; ``account_age`` or ``usage`` are not.
    """
    for fragment, key in _ZH.items():
        if fragment in name:
            return key
    tokens = _tokens(name)
    if not tokens:
        return None
    joined = "".join(tokens)
    if joined in _NAMES:
        return _NAMES[joined]
    for token in tokens:
        if token in _WORDS:
            return _WORDS[token]
    if "household" in tokens and _HOUSEHOLD & set(tokens):
        return "household_registration"
    if tokens[0] == "age":
        return "age"
    if len(tokens) >= 2 and tokens[-1] == "age" and tokens[-2] in _AGE_OWNERS:
        return "age"
    return None


def check_allowed(names: Iterable[str], sources: Mapping[str, Iterable[str]] | None = None) -> None:
    """Raise `ProtectedFeatureError` if any name, or any source a name derives from, is
    a protected attribute."""
    offending: dict[str, str] = {}
    sources = sources or {}
    for name in names:
        key = protected_attribute(name)
        if key is not None:
            offending[name] = PROTECTED[key]
            continue
        for source in sources.get(name, ()):
            key = protected_attribute(source)
            if key is not None:
                offending[name] = f"derived from {source!r}: {PROTECTED[key]}"
                break
    if offending:
        raise ProtectedFeatureError(offending)
