from archcalc.cli.main import main

main(prog_name="archcalc")
