// Command all is the smallest securedb program with every provider and secret resolver: the
// shared body of package program (open, save, read one document). The
// linkcheck test measures what it links and how big it is.
package main

import (
	_ "github.com/securedb-go/securedb/dbservice/all"
	"github.com/securedb-go/securedb/internal/linkcheck/program"
)

func main() { program.Main() }
