from mediajobs.cli import main

main()
