"""benchmarks.sections: the persons section of results.md survives an events rewrite."""

from __future__ import annotations

from benchmarks.sections import keep_sections, put_section


def test_put_section_adds_then_replaces(tmp_path):
    path = tmp_path / "results.md"
    path.write_text("# Benchmark: events\n\nfigures\n")
    put_section(path, "persons", "# Benchmark: persons\n\nfirst")
    put_section(path, "persons", "# Benchmark: persons\n\nsecond")
    text = path.read_text()
    assert text.startswith("# Benchmark: events\n\nfigures\n\n<!-- section:persons -->\n")
    assert "second" in text
    assert "first" not in text
    assert text.count("<!-- section:persons -->") == 1


def test_keep_sections_carries_sections_into_a_rewrite(tmp_path):
    path = tmp_path / "results.md"
    path.write_text("old events\n")
    put_section(path, "persons", "persons figures")
    rewritten = keep_sections(path, "# new events\n")
    assert rewritten == (
        "# new events\n\n<!-- section:persons -->\npersons figures\n<!-- /section:persons -->\n"
    )
    assert keep_sections(tmp_path / "absent.md", "x\n") == "x\n"
