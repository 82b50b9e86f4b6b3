// Command gobin is a Go binary for the image tests: its build information
// names golang.org/x/text, a dependency of the project.
package main

import (
	"fmt"

	"golang.org/x/text/language"
)

func main() { fmt.Println(language.English) }
