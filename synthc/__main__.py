from synthc.cli import run

run()
