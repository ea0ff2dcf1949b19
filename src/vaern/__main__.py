from vaern.cli import main

main()
