"""Reading ingest files: blank lines are not records, line numbers stay the file's."""

from __future__ import annotations

from pathlib import Path

from doorstep.services.ingest.validate import LINE, read_table


def test_blank_lines_are_skipped_and_lines_keep_their_numbers(tmp_path: Path) -> None:
    path = tmp_path / "payments.csv"
    path.write_text("payment_id,amount\nP1,1.00\n,\nP2, 2.00 \n\n", encoding="utf-8")
    frame = read_table(path)
    assert frame["payment_id"].to_list() == ["P1", "P2"]
    assert frame[LINE].to_list() == [2, 4]
    assert frame["amount"].to_list() == ["1.00", "2.00"]
