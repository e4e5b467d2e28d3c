"""Refreshing the X12 code lists from a download."""

import json
from pathlib import Path

import pytest

from workflows.codes import Code, code_list, read_download, write_list


def test_a_downloaded_csv_is_read_by_its_kind_and_written_sorted(tmp_path: Path) -> None:
    download = tmp_path / "carc-2027-01.csv"
    download.write_text('code,status,description\nB1,current,Non-covered visits.\n2,current,"Coinsurance, Amount"\n')
    lists = read_download(download)
    assert lists == {
        "carc": [Code("B1", "current", "Non-covered visits."), Code("2", "current", "Coinsurance, Amount")]
    }
    assert write_list("carc", lists["carc"], tmp_path) == 2
    assert (tmp_path / "carc.csv").read_text().splitlines() == [
        "code,status,description", '2,current,"Coinsurance, Amount"', "B1,current,Non-covered visits."
    ]  # fmt: skip


def test_the_combined_json_download_holds_both_lists(tmp_path: Path) -> None:
    download = tmp_path / "x12.json"
    download.write_text(json.dumps({"carc": {"309": {"text": "New", "status": "current"}},
                                    "rarc": {"N941": {"text": "Newer", "status": "current"}}}))  # fmt: skip
    lists = read_download(download)
    assert lists["carc"] == [Code("309", "current", "New")] and lists["rarc"] == [Code("N941", "current", "Newer")]


def test_a_download_whose_kind_or_columns_are_unclear_is_refused(tmp_path: Path) -> None:
    unnamed = tmp_path / "codes.csv"
    unnamed.write_text("code,status,description\n")
    with pytest.raises(ValueError, match="put 'carc' or 'rarc' in the file name"):
        read_download(unnamed)
    wrong = tmp_path / "rarc.csv"
    wrong.write_text("code,text\n")
    with pytest.raises(ValueError, match="expected the columns code,status,description"):
        read_download(wrong)


def test_the_packaged_lists_are_loaded_once() -> None:
    assert code_list("carc") is code_list("carc")
