// Command memory is the smallest securedb program that imports no provider: the
// shared body of package program (open, save, read one document). The
// linkcheck test measures what it links and how big it is.
package main

import (
	"github.com/securedb-go/securedb/internal/linkcheck/program"
)

func main() { program.Main() }
