from vardekedja.cli import main

main()
