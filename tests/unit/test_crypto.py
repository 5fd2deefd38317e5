"""The personal-data cipher: Fernet (aes) and SM4-CBC + HMAC-SM3 (sm4), each value saying
its scheme; the keyed lookup hash of each; where the keys are kept and the warning when
that place is inside the data's folder."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from typer.testing import CliRunner

from doorstep.config import Settings
from doorstep.domain.errors import KeyMaterialError
from doorstep.integrations.crypto import SM4_PREFIX, DataCipher, HmacHasher, new_data_key
from doorstep.integrations.keys import key_location_warnings, personal_data_keys

TEXT = "北京市朝阳区建国路1号 · 110105199003071234"


@pytest.fixture(autouse=True)
def _no_keys_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the keys kept on disk: none given in the environment."""
    monkeypatch.delenv("DOORSTEP_DATA_KEYS", raising=False)
    monkeypatch.delenv("DOORSTEP_LOOKUP_KEY", raising=False)


def test_sm4_round_trip_of_text_and_bytes() -> None:
    cipher = DataCipher([new_data_key()], "sm4")
    token = cipher.encrypt(TEXT)
    assert token.startswith(SM4_PREFIX) and TEXT not in token
    assert cipher.decrypt(token) == TEXT
    assert cipher.encrypt(TEXT) != token  # a fresh IV each time
    document = b"%PDF-1.7 " + bytes(range(256)) * 40
    sealed = cipher.encrypt_bytes(document)
    assert sealed.startswith(SM4_PREFIX.encode()) and b"%PDF" not in sealed
    assert cipher.decrypt_bytes(sealed) == document
    assert cipher.decrypt(cipher.encrypt("")) == ""


def test_sm4_really_is_sm4_and_refuses_tampering() -> None:
    """The body is SM4-CBC of the padded text, authenticated by HMAC-SM3: one flipped
    bit anywhere, another key, or a cut value is refused."""
    key = new_data_key()
    cipher = DataCipher([key], "sm4")
    raw = bytearray(base64.urlsafe_b64decode(cipher.encrypt(TEXT)[len(SM4_PREFIX) :]))
    assert raw[0] == 1 and (len(raw) - 1 - 16 - 32) % 16 == 0  # version, IV, blocks, MAC
    for position in (0, 5, 20, len(raw) - 1):
        changed = bytearray(raw)
        changed[position] ^= 1
        with pytest.raises(KeyMaterialError):
            cipher.decrypt(SM4_PREFIX + base64.urlsafe_b64encode(bytes(changed)).decode())
    with pytest.raises(KeyMaterialError):
        DataCipher([new_data_key()], "sm4").decrypt(cipher.encrypt(TEXT))
    with pytest.raises(KeyMaterialError):
        cipher.decrypt(SM4_PREFIX + "AAAA")
    digest = hashes.Hash(hashes.SM3())
    digest.update(b"abc")  # GB/T 32905-2016 example 1: the library's SM3 is the standard's
    assert digest.finalize().hex() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )


def test_values_of_either_scheme_read_during_a_change_and_rotate_moves_them() -> None:
    old, new = new_data_key(), new_data_key()
    fernet_token = DataCipher([old]).encrypt(TEXT)
    sm4_token = DataCipher([old], "sm4").encrypt(TEXT)
    moving = DataCipher([new, old], "sm4")  # the new key first, the old still readable
    assert moving.decrypt(fernet_token) == moving.decrypt(sm4_token) == TEXT
    rotated = moving.rotate(fernet_token)
    assert rotated.startswith(SM4_PREFIX)
    assert DataCipher([new], "sm4").decrypt(rotated) == TEXT
    with pytest.raises(KeyMaterialError):
        DataCipher([old], "sm4").decrypt(rotated)
    back = DataCipher([new]).rotate(rotated)  # and back to Fernet
    assert not back.startswith(SM4_PREFIX) and DataCipher([new]).decrypt(back) == TEXT


def test_lookup_hashes_of_each_scheme() -> None:
    sha, sm3 = HmacHasher("lookup"), HmacHasher("lookup", "sm4")
    assert sha.digest(TEXT) == HmacHasher("lookup").digest(TEXT)
    assert sm3.digest(TEXT) == HmacHasher("lookup", "sm4").digest(TEXT)
    assert sha.digest(TEXT) != sm3.digest(TEXT) and len(sm3.digest(TEXT)) == 64
    assert sm3.digest(TEXT) != HmacHasher("other", "sm4").digest(TEXT)


def test_bad_keys_and_schemes_are_refused() -> None:
    with pytest.raises(KeyMaterialError):
        DataCipher([])
    with pytest.raises(KeyMaterialError):
        DataCipher(["not a key"])
    with pytest.raises(KeyMaterialError):
        DataCipher([new_data_key()], "des")  # type: ignore[arg-type]


def test_the_setting_chooses_the_scheme(tmp_path: Path) -> None:
    key = new_data_key()
    settings = Settings(var_dir=tmp_path / "var", cipher="sm4", data_keys=key, lookup_key="k")
    cipher, hasher = personal_data_keys(settings)
    assert cipher.encrypt(TEXT).startswith(SM4_PREFIX)
    assert hasher.digest(TEXT) == HmacHasher("k", "sm4").digest(TEXT)
    cipher, _ = personal_data_keys(Settings(var_dir=tmp_path / "var", cipher="sm4"))
    assert cipher.encrypt(TEXT).startswith(SM4_PREFIX)


def test_keys_are_kept_beside_the_data_folder_not_inside_it(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var")
    assert settings.secrets_dir == tmp_path / "secrets"
    personal_data_keys(settings)
    assert (tmp_path / "secrets" / "data.keys").exists()
    assert not (tmp_path / "var" / "secrets").exists()
    assert key_location_warnings(settings) == []


def test_keys_an_earlier_version_kept_inside_var_move_out(tmp_path: Path) -> None:
    legacy = tmp_path / "var" / "secrets"
    legacy.mkdir(parents=True)
    key = new_data_key()
    (legacy / "data.keys").write_text(key + "\n")
    (legacy / "lookup.key").write_text("old-lookup\n")
    (legacy / "session.key").write_text("session\n")
    token = DataCipher([key]).encrypt(TEXT)
    cipher, hasher = personal_data_keys(Settings(var_dir=tmp_path / "var"))
    assert cipher.decrypt(token) == TEXT  # the data stays readable
    assert hasher.digest(TEXT) == HmacHasher("old-lookup").digest(TEXT)
    assert not legacy.exists()
    assert sorted(p.name for p in (tmp_path / "secrets").iterdir()) == [
        "data.keys",
        "lookup.key",
        "session.key",
    ]


def test_keys_inside_the_data_folder_are_warned_about_unless_demo(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside = Settings(var_dir=tmp_path / "var", secrets_dir=tmp_path / "var" / "keys")
    [warning] = key_location_warnings(inside)
    assert str(tmp_path / "var" / "keys") in warning and "DOORSTEP_SECRETS_DIR" in warning
    beside_db = Settings(
        var_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'db' / 'doorstep.db'}",
        secrets_dir=tmp_path / "db" / "keys",
    )
    assert len(key_location_warnings(beside_db)) == 1
    demo = inside.model_copy(update={"demo": True})
    assert key_location_warnings(demo) == []
    from_env = inside.model_copy(update={"data_keys": new_data_key(), "lookup_key": "k"})
    assert key_location_warnings(from_env) == []

    from doorstep.app import create_app

    caplog.set_level(logging.WARNING, logger="doorstep")
    create_app(inside)
    assert "inside the data folder" in caplog.text

    from doorstep.cli.main import app as cli

    monkeypatch.setenv("DOORSTEP_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DOORSTEP_SECRETS_DIR", str(tmp_path / "var" / "keys"))
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "inside the data folder" in " ".join(result.output.split())
