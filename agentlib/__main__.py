from agentlib.cli import main

main()
