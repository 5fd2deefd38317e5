"""The command line (Typer + Rich). Rich lives only here."""
