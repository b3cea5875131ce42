from workanalytics.cli import main

main()
