from obview.cli import main

main()
