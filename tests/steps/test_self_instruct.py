"""self_instruct against the loopback server: filters, novelty rejections, lineage, caching."""

from __future__ import annotations

from rouge_score import rouge_scorer

SEEDS = [
    {"instruction": "Write a haiku about autumn leaves falling."},
    {"instruction": "Explain how a bicycle gear system works."},
    {"instruction": "List three ways to save water at home."},
]
# The server answers exactly what [[reply=...]] says: two near-copies of pool tasks, one
# blocked word, one too short, one new task (the same in every round).
REPLY = (
    "[[reply=Here you go:\n"
    "1. {{ examples[0] }}\n"
    "2. Please {{ examples[1] | lower }}\n"
    "3. Draw a lighthouse at night.\n"
    "4. Be brief.\n"
    "5. Compose a limerick about a purple giraffe who collects stamps.]]"
)


def steps(**options: object) -> dict[str, dict[str, object]]:
    return {
        "seeds": {"kind": "seed", "rows": SEEDS},
        "tasks": {"kind": "self_instruct", "from": "seeds", "rounds": 2, "per_round": 5,
                  "examples": 2, "prompt": REPLY, **options},
    }  # fmt: skip


def test_near_copies_rejected_for_novelty_with_their_rouge_l(project):
    from synthc.progress import RecordingReporter

    proj = project(steps())
    reporter = RecordingReporter()
    result = proj.build(reporter=reporter)
    assert result.exit_code == 0
    assert ("message", "tasks: round 1: 1 accepted, 4 rejected; pool 4") in reporter.events
    tasks = proj.step("tasks")
    assert tasks["instruction"].to_list() == [
        "Compose a limerick about a purple giraffe who collects stamps."
    ]
    assert tasks.columns == ["_id", "instruction", "round", "_model", "_call_key"]
    assert tasks["round"].to_list() == [1]
    rejected = proj.query("select * from _rejections order by round, candidate")
    reasons = dict(zip(rejected["candidate"], rejected["reason"], strict=True))
    assert reasons["Draw a lighthouse at night."] == "blocklist: draw"
    assert reasons["Be brief."] == "too_short"
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    novelty = rejected.filter(reason="novelty")
    assert novelty.height == 5  # two copies per round, and round 2 repeats the limerick
    for row in novelty.iter_rows(named=True):
        assert row["max_rouge_l"] > 0.7
        expected = scorer.score(row["most_similar"], row["candidate"])["rougeL"].fmeasure
        assert row["max_rouge_l"] == expected
    assert set(novelty.filter(round=2)["most_similar"]) >= {tasks["instruction"][0]}


def test_rebuild_makes_zero_requests_and_two_fresh_builds_agree(project):
    first = project(steps(), folder="one")
    first.build()
    sent = first.requests()
    assert sent == 2  # one request per round
    first.build(force=True)
    assert first.requests() == sent  # re-run from the cache: nothing sent
    second = project(steps(), folder="two")
    second.build()
    assert second.step("tasks").equals(first.step("tasks"))
    assert second.query("select * from _rejections").equals(
        first.query("select * from _rejections")
    )


def test_target_stops_the_pool_growing(project):
    proj = project(steps(target=3, rounds=3))
    proj.build()
    assert proj.step("tasks").height == 0
    assert proj.requests() == 0  # the seeds already reach the target


def test_with_input_and_output_add_columns(project):
    proj = project(steps(with_input=True, with_output=True, rounds=1))
    proj.build()
    tasks = proj.step("tasks")
    assert tasks.columns == [
        "_id",
        "instruction",
        "round",
        "input",
        "output",
        "_model",
        "_call_key",
    ]
    assert tasks["output"][0].startswith("echo ")
    assert proj.requests() == 3


def test_a_pool_of_ten_thousand_seeds(project, tmp_path):
    import json
    import time

    words = ["river", "castle", "engine", "garden", "violin", "desert", "harbor", "comet", "forest",
             "market", "bridge", "island", "lantern", "meadow", "canyon", "glacier", "orchard"]  # fmt: skip
    rows = [
        {"instruction": f"Describe the {words[i % 17]} of {words[(i // 17) % 17]} town number {i} "
                        f"to a {words[(i // 289) % 17]} fan"}
        for i in range(10_000)
    ]  # fmt: skip
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "seeds.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    reply = ("[[reply=1. {{ examples[0] }}\n2. {{ examples[1] }} now\n"
             "3. Compose a limerick about a purple giraffe who collects stamps.]]")  # fmt: skip
    proj = project({
        "seeds": {"kind": "seed", "path": "seeds.jsonl"},
        "tasks": {"kind": "self_instruct", "from": "seeds", "rounds": 1, "per_round": 3, "prompt": reply},
    })  # fmt: skip
    started = time.perf_counter()
    assert proj.build().exit_code == 0
    assert time.perf_counter() - started < 30
    assert proj.step("tasks")["instruction"].to_list() == [
        "Compose a limerick about a purple giraffe who collects stamps."
    ]
    rejected = proj.query("select candidate, max_rouge_l, most_similar from _rejections")
    assert rejected.height == 2
    assert rejected["max_rouge_l"].to_list()[0] == 1.0
    assert rejected["most_similar"][0] == rejected["candidate"][0]
    assert 0.9 < rejected["max_rouge_l"][1] < 1.0


def test_a_target_not_reached_is_a_warning_with_the_count_and_reasons(project):
    from synthc.progress import RecordingReporter

    proj = project(steps(target=60))
    reporter = RecordingReporter()
    assert proj.build(reporter=reporter).exit_code == 0
    assert proj.step("tasks").height == 1
    assert ("warning", "tasks: target not reached: the pool holds 4 of 60 tasks after 2 round(s) "
            "(1 new; rejected: 5 novelty, 2 blocklist: draw, 2 too_short; see _rejections); "
            "raise `rounds` or `per_round`") in reporter.events  # fmt: skip


def test_a_reached_target_warns_nothing(project):
    from synthc.progress import RecordingReporter

    reporter = RecordingReporter()
    project(steps(target=4)).build(reporter=reporter)
    assert reporter.of("warning") == []
