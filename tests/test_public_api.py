"""The public namespace is small and deliberate."""

import engine


def test_all_names_exist():
    """Every name in engine.__all__ is importable from the package."""
    for name in engine.__all__:
        assert hasattr(engine, name), name


def test_api_pipeline(tmp_path):
    """load_plan -> statements works from the package namespace."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "scenarios"
    plan = engine.load_plan(root / "plans" / "classic_ae.yaml")
    df = engine.statements(plan, root / "data" / "classic_ae_roster.csv", root / "data" / "classic_ae_deals.csv")
    assert {"rep_id", "period", "total"} <= set(df.columns)
