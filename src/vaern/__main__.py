from vaern.cli import main

main(prog_name="vaern")
