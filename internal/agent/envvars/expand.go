package envvars

import "strings"

// This is the $(VAR) syntax of Kubernetes' third_party expansion package:
// $(NAME) is replaced by NAME's value when NAME is known and left as
// written otherwise; $$ is an escaped $; any other $ is literal.

// MappingFor returns a lookup that tries each map in turn and leaves an
// unknown reference as written, "$(NAME)".
func MappingFor(maps ...map[string]string) func(string) string {
	return func(name string) string {
		for _, m := range maps {
			if v, ok := m[name]; ok {
				return v
			}
		}
		return "$(" + name + ")"
	}
}

// Expand replaces the $(NAME) references in input using mapping.
func Expand(input string, mapping func(string) string) string {
	var b strings.Builder
	checkpoint := 0
	for cursor := 0; cursor < len(input); cursor++ {
		if input[cursor] != '$' || cursor+1 >= len(input) {
			continue
		}
		b.WriteString(input[checkpoint:cursor])
		read, isVar, advance := readVariableName(input[cursor+1:])
		if isVar {
			b.WriteString(mapping(read))
		} else {
			b.WriteString(read)
		}
		cursor += advance
		checkpoint = cursor + 1
	}
	return b.String() + input[checkpoint:]
}

// readVariableName reads what follows a '$': it returns the name (or the
// literal text to copy), whether it was a reference, and how many bytes
// it consumed.
func readVariableName(input string) (string, bool, int) {
	switch input[0] {
	case '$': // escaped operator
		return "$", false, 1
	case '(':
		for i := 1; i < len(input); i++ {
			if input[i] == ')' {
				return input[1:i], true, i + 1
			}
		}
		return "$(", false, 1 // incomplete reference: literal
	default:
		return "$" + input[0:1], false, 1
	}
}
