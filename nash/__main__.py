from nash.cli import main

main()
