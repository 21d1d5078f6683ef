argv
