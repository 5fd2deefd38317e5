"""`doorstep export table`: whole tables for analysts, never personal data."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from doorstep.domain.errors import InvalidValue
from doorstep.services.lender.exports import EXPORTABLE, export_table
from doorstep.store.models import Base, Customer, Loan
from tests.factories.world import build_world

pytestmark = pytest.mark.db


def test_exports_keep_rows_and_types_and_leave_personal_data_out(
    engine: Engine, tmp_path: Path, keys: tuple[object, object]
) -> None:
    world = build_world(engine, tmp_path, keys)
    secrets = [*world.id_numbers, *world.phones, *world.addresses]
    with Session(engine) as session:
        names = list(session.scalars(select(Customer.name)))
        loans = session.scalar(select(func.count()).select_from(Loan))
        for table in EXPORTABLE:
            for file_format in ("parquet", "csv"):
                target = tmp_path / "out" / f"{table}.{file_format}"
                rows = export_table(session, table, target, file_format=file_format)
                stored = session.scalar(
                    select(func.count()).select_from(Base.metadata.tables[table])
                )
                assert rows == stored, table
                data = target.read_bytes()
                for secret in [*secrets, *names]:
                    assert secret.encode() not in data, f"{secret} leaked into {target.name}"
                assert not target.with_name(target.name + ".partial").exists()
    frame = pq.read_table(tmp_path / "out" / "loans.parquet")
    assert frame.num_rows == loans
    assert frame.schema.field("principal").type == pa.int64()  # fen, exact
    assert frame.column("principal").to_pylist()[0] == 1_200_000
    customers = pq.read_table(tmp_path / "out" / "customers.parquet")
    assert "id_number" not in customers.schema.names and "name" not in customers.schema.names
    assert "id_number_masked" in customers.schema.names


def test_an_unknown_or_private_table_is_refused(engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as session:
        for table in ("users", "api_tokens", "contact_points", "audit_events", "nope"):
            with pytest.raises(InvalidValue, match="cannot be exported"):
                export_table(session, table, tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()
