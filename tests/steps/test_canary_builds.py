"""Canaries in a build: planted into a private seed, the same on every build, caught when
an echo generator copies them (and they did reach its prompts), never exported or shown,
and private like the seed's other rows."""

from __future__ import annotations

import polars as pl
import pytest
import yaml
from privacy_data import customer_rows, paraphrase

from synthc.api import validate_recipe
from synthc.errors import RecipeError
from synthc.recipe.load import load_recipe
from synthc.report.card import dataset_card
from synthc.store.store import Store


def canary_steps(prompt: str, severity: str = "error", canaries: object = 4):
    return {
        "customers": {
            "kind": "seed",
            "rows": customer_rows(40),
            "private": True,
            "holdout": 0.25,
            "canaries": canaries,
        },
        "notes": {
            "kind": "generate",
            "from": "customers",
            "prompt": prompt,
            "checks": [{"privacy": {"column": "output", "severity": severity}}],
        },
    }


def _privacy(proj):
    return next(c for c in proj.lock().steps["notes"].checks if c["kind"] == "privacy")


def test_an_echo_generator_that_saw_the_canaries_is_caught_on_every_one(project, server):
    proj = project(canary_steps("Rewrite this note: {{ note }}"))
    result = proj.build()
    assert result.exit_code == 1 and result.gate_failures == ["notes"]
    canaries = proj.query("select * from _canaries")
    assert canaries.height == 4
    seed = proj.step("customers")
    assert set(canaries["_id"]) <= set(seed["_id"])  # planted among the used rows
    for suffix in canaries["suffix"]:  # each was rendered into a prompt
        assert sum(suffix in body for body in server.stats.bodies) == 1
    details = _privacy(proj)["details"]
    assert details["canaries"] == 4 and details["canaries_leaked"] == 4
    matches = proj.query("select * from _privacy_matches where kind = 'canary'")
    assert set(matches["seed_id"]) == set(canaries["_id"])
    assert "4 of 4 canaries found in outputs (max 0)" in _privacy(proj)["message"]


def test_a_paraphraser_passes_with_canaries_planted(project, script):
    script([("Paraphrase", paraphrase)])
    proj = project(canary_steps("Paraphrase: {{ note }}"))
    assert proj.build().exit_code == 0
    details = _privacy(proj)["details"]
    assert details["canaries"] == 4 and details["canaries_leaked"] == 0


def test_canaries_are_the_same_on_every_build_and_change_with_the_recipe_seed(project):
    steps = {"customers": canary_steps("x")["customers"]}
    builds = []
    for folder, seed in (("one", 7), ("two", 7), ("three", 8)):
        proj = project(steps, folder=folder, seed=seed)
        assert proj.build().exit_code == 0
        entry = proj.lock().steps["customers"]
        builds.append(
            (entry.fingerprint, entry.data_version, proj.query("select * from _canaries"))
        )
    (fp1, dv1, c1), (fp2, dv2, c2), (_, dv3, c3) = builds
    assert (fp1, dv1) == (fp2, dv2) and c1.drop("_step").equals(c2.drop("_step"))
    assert dv3 != dv1 and set(c3["suffix"]).isdisjoint(c1["suffix"])


def test_canaries_are_never_exported_nor_shown_in_the_card(project):
    steps = {
        "customers": canary_steps("x", canaries={"count": 3, "column": "note"})["customers"],
        "copied": {"kind": "sql", "from": "customers", "query": "select * from customers"},
    }
    proj = project(steps)
    data = yaml.safe_load(proj.path.read_text())
    data["exports"] = {"copied": ["out/copied.jsonl"]}
    proj.path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert proj.build().exit_code == 0
    suffixes = proj.query("select suffix from _canaries")["suffix"].to_list()
    copied = proj.step("copied")
    assert sum(any(s in note for s in suffixes) for note in copied["note"]) == 3
    exported = pl.read_ndjson(proj.path.parent / "out" / "copied.jsonl")
    assert exported.height == copied.height - 3
    text = (proj.path.parent / "out" / "copied.jsonl").read_text()
    recipe = load_recipe(proj.path)
    store = Store.for_recipe(recipe)
    card = dataset_card(recipe, store.read_lock(), store)
    for suffix in suffixes:
        for word in suffix.split():
            assert word not in text and word not in card


def test_canaries_are_private_rows_a_remote_model_may_not_see(project):
    proj = project(canary_steps("{{ note }}"), models={"cloud": {
        "model": "openai/gpt-4o-mini", "api_base": "https://api.example.com/v1"}})  # fmt: skip
    data = yaml.safe_load(proj.path.read_text())
    data["steps"]["notes"]["model"] = "cloud"
    proj.path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(RecipeError, match="reads private seed rows"):
        validate_recipe(proj.path)


def test_canaries_without_private_are_refused(project):
    steps = canary_steps("{{ note }}")
    del steps["customers"]["private"], steps["customers"]["holdout"]
    del steps["notes"]["checks"]
    with pytest.raises(RecipeError, match="private"):
        validate_recipe(project(steps).path)
