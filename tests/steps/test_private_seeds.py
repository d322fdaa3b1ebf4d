"""Private seeds: held-out rows never reach a prompt; private rows never reach a remote
model unless the recipe allows it (checked before anything runs)."""

from __future__ import annotations

import polars as pl
import pytest
import yaml
from privacy_data import customer_rows, paraphrase

from synthc.api import validate_recipe
from synthc.errors import RecipeError
from synthc.quality.text import normalise
from synthc.recipe.load import load_recipe
from synthc.store.store import Store

CUSTOMERS = [
    {"name": f"Customer {i}", "email": f"person{i}.secret@example.org", "note": f"order {i}"}
    for i in range(40)
]


def steps(**seed_options):
    return {
        "customers": {"kind": "seed", "rows": CUSTOMERS, "private": True, **seed_options},
        "mails": {
            "kind": "generate",
            "from": "customers",
            "prompt": "Write a support mail like: {{ name }} <{{ email }}> {{ note }}",
        },
    }


def test_holdout_rows_never_appear_in_any_request_body(project, server):
    proj = project(steps(holdout=0.25))
    assert proj.build().exit_code == 0
    used = proj.step("customers")
    held = proj.query("select * from _holdout")
    assert 0 < held.height < len(CUSTOMERS) and used.height + held.height == len(CUSTOMERS)
    assert set(used["_id"]).isdisjoint(held["_id"])
    bodies = server.stats.bodies
    assert len(bodies) == used.height  # one prompt per used seed row
    for email in held["email"]:
        assert not any(email in body for body in bodies), email
    for email in used["email"]:  # the used rows did reach the prompts
        assert any(email in body for body in bodies)
    # lineage agrees: no generated row descends from a held-out seed
    parents = set(proj.step("mails")["_parent_id"])
    assert parents == set(used["_id"])


def test_holdout_is_chosen_by_row_id_so_adding_rows_keeps_the_split(project):
    first = project(steps(holdout=0.25), folder="one")
    first.build()
    held_before = set(first.query("select _id from _holdout")["_id"])
    more = [
        *CUSTOMERS,
        *({"name": f"New {i}", "email": f"n{i}@x.org", "note": "x"} for i in range(20)),
    ]
    second = project({**steps(holdout=0.25), "customers": {**steps()["customers"], "rows": more,
                                                            "holdout": 0.25}}, folder="two")  # fmt: skip
    second.build()
    held_after = set(second.query("select _id from _holdout")["_id"])
    assert held_before <= held_after  # every old held-out row is still held out


def _remote(project, **recipe_options):
    proj = project(steps(holdout=0.2), models={"cloud": {"model": "openai/gpt-4o-mini",
                                                         "api_base": "https://api.example.com/v1"}})  # fmt: skip
    data = yaml.safe_load(proj.path.read_text())
    data["steps"]["mails"]["model"] = "cloud"
    data.update(recipe_options)
    proj.path.write_text(yaml.safe_dump(data, sort_keys=False))
    return proj


def test_private_rows_for_a_remote_model_are_refused_at_validate(project, server):
    proj = _remote(project)
    with pytest.raises(RecipeError) as caught:
        validate_recipe(proj.path)
    message = str(caught.value)
    assert "steps.mails.model" in message and "'cloud'" in message
    assert "openai/gpt-4o-mini" in message and "allow_remote: true" in message
    with pytest.raises(RecipeError):
        proj.build()
    assert server.stats.total == 0  # nothing was sent


def test_allow_remote_lets_the_recipe_compile(project):
    proj = _remote(project, allow_remote=True)
    plan = validate_recipe(proj.path)
    assert [s.name for s in plan.steps] == ["customers", "mails"]


def test_loopback_and_public_seeds_need_no_permission(project):
    validate_recipe(project(steps(), folder="loopback").path)  # srv is on 127.0.0.1
    public = project({**steps(), "customers": {"kind": "seed", "rows": CUSTOMERS}},
                     folder="public", models={"cloud": {"model": "openai/x",
                                                        "api_base": "https://api.example.com"}})  # fmt: skip
    data = yaml.safe_load(public.path.read_text())
    data["steps"]["mails"]["model"] = "cloud"
    public.path.write_text(yaml.safe_dump(data, sort_keys=False))
    validate_recipe(public.path)


def privacy_steps(prompt: str, severity: str = "error"):
    return {
        "customers": {"kind": "seed", "rows": customer_rows(), "private": True, "holdout": 0.25},
        "notes": {
            "kind": "generate",
            "from": "customers",
            "prompt": prompt,
            "checks": [{"privacy": {"column": "output", "severity": severity}}],
        },
    }


def _privacy_check(proj):
    return next(c for c in proj.lock().steps["notes"].checks if c["kind"] == "privacy")


def test_an_echo_generator_fails_pii_replay_copies_and_membership(project, server):
    proj = project(privacy_steps("Rewrite this note: {{ note }}"))
    result = proj.build()
    assert result.exit_code == 1 and result.gate_failures == ["notes"]
    check = _privacy_check(proj)
    details = check["details"]
    used = proj.step("customers")
    assert details["pii_replayed"] >= 2 * used.height  # every email and phone came back
    assert details["copied_rows"] == used.height
    assert details["membership_advantage"] == 1.0 and details["membership_p_value"] < 1e-6
    # failing rows in the lock are ids only: no private text is kept there
    assert all(set(row) == {"_id"} for row in check["failing_rows"])
    matches = proj.query("select * from _privacy_matches")
    assert set(matches["kind"]) >= {"ngram", "minhash", "pii:email", "pii:phone"}
    assert matches.columns == ["output_id", "seed_id", "kind", "score", "span", "_step"]
    ngram = matches.filter(pl.col("kind") == "ngram").row(0, named=True)
    seed_note = used.filter(pl.col("_id") == ngram["seed_id"])["note"][0]
    assert len(ngram["span"].split()) >= 13 and ngram["span"] in normalise([seed_note])[0]


def test_flagged_rows_are_never_exported_or_shown_in_the_card(project):
    proj = project(privacy_steps("Rewrite this note: {{ note }}", severity="warn"))
    data = yaml.safe_load(proj.path.read_text())
    data["exports"] = {"notes": ["out/notes.jsonl"]}
    proj.path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert proj.build().exit_code == 0  # a warning does not stop the exports
    exported = (proj.path.parent / "out" / "notes.jsonl").read_text()
    assert exported == ""  # every echoed row copied a private note: none is exported
    from synthc.report.card import dataset_card

    recipe = load_recipe(proj.path)
    store = Store.for_recipe(recipe)
    card = dataset_card(recipe, store.read_lock(), store)
    for row in customer_rows():  # not in the sample row, nor in the recipe it shows
        assert row["name"] not in card


def test_a_paraphrasing_generator_that_never_sees_the_holdout_passes(project, script, server):
    script([("Paraphrase", paraphrase)])
    proj = project(privacy_steps("Paraphrase: {{ note }}"))
    assert proj.build().exit_code == 0
    details = _privacy_check(proj)["details"]
    assert details["pii_entities"] > 0 and details["pii_replayed"] == 0
    assert details["copied_rows"] == 0
    assert details["membership_advantage"] <= 0.1 or details["membership_p_value"] >= 0.01
    assert proj.query("select count(*) as n from _privacy_matches")["n"][0] == 0


def test_the_report_has_privacy_and_balance_sections(project):
    from synthc.report.gather import build_report
    from synthc.report.html import render_html

    steps = privacy_steps("Rewrite this note: {{ note }}", severity="warn")
    steps["notes"]["checks"].append(
        {"balance": {"attribute": "product", "reference": "customers", "severity": "warn"}}
    )
    proj = project(steps)
    proj.build()
    recipe = load_recipe(proj.path)
    report = build_report(recipe, Store.for_recipe(recipe))
    [(step, groups)] = report.privacy
    assert step == "notes"
    reasons = {group.reason: group for group in groups}
    assert reasons["replayed PII: email"].count == proj.step("customers").height
    ngram = reasons["shares a 13-gram with a private seed"]
    assert all(len(e.text.split()) >= 13 and e.detail.startswith("seed ") for e in ngram.examples)
    [plot] = report.balance
    assert plot.bins == ("laptop", "phone", "printer", "router")
    assert plot.series[0].values == pytest.approx(plot.series[1].values)  # copied through
    page = render_html(report)
    assert '<section id="privacy"><h2>Privacy</h2>' in page and '<section id="balance">' in page
    # the recipe shown withholds the private seed's inline rows
    assert "rows: []  # 120 private rows withheld" in report.recipe_text
    assert "@mail-" not in report.recipe_text and "holdout: 0.25" in report.recipe_text
    assert "replayed PII: phone" in page and 'id="plot-balance-notes-product"' in page


def test_a_private_seed_without_holdout_still_gets_pii_and_copy_checks(project):
    steps = privacy_steps("Rewrite this note: {{ note }}")
    del steps["customers"]["holdout"]
    proj = project(steps)
    assert proj.build().exit_code == 1
    check = _privacy_check(proj)
    assert check["details"]["copied_rows"] == len(customer_rows())
    assert "membership_share" not in check["details"]
    assert "membership: no held-out seeds" in check["message"]


def test_dedup_against_private_rows_does_not_make_its_output_private(project):
    proj = project(
        {
            "customers": {"kind": "seed", "rows": CUSTOMERS, "private": True},
            "public": {"kind": "seed", "rows": [{"note": "hello"}]},
            "fresh": {
                "kind": "dedup",
                "from": "public",
                "column": "note",
                "against": ["customers"],
            },
            "mails": {
                "kind": "generate",
                "from": "fresh",
                "prompt": "{{ note }}",
                "model": "cloud",
            },
        },
        models={"cloud": {"model": "openai/x", "api_base": "https://api.example.com"}},
    )
    validate_recipe(proj.path)  # only the public rows reach the remote model
