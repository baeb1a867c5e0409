from asaas.cli import main

main()
