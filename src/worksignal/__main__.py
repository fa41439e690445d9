from worksignal.cli import main

main()
