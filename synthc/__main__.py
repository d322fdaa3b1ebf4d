from synthc.cli import main

main()
