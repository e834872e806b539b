package tourtest

import (
	"slices"
	"strings"
	"testing"
)

func TestTourCommands(t *testing.T) {
	for _, tc := range []struct {
		name    string
		readme  string
		want    []string
		wantErr string
	}{
		{
			name: "commands without their comments, across blocks",
			readme: "# mini\n```sh\nmake test\n```\n<!-- tour: begin -->\nSome words.\n```sh\n" +
				"make run                # starts\n\n# a note\ncurl -s http://$(x get svc web)/   # \"v1 web\"\n```\nMore words.\n" +
				"```\nbin/mini stop\n```\n<!-- tour: end -->\n```\nmake bench\n```\n",
			want: []string{"make run", "curl -s http://$(x get svc web)/", "bin/mini stop"},
		},
		{name: "a hash inside a command stays", readme: "<!-- tour: begin -->\n```\necho a#b\n```\n<!-- tour: end -->\n", want: []string{"echo a#b"}},
		{name: "no tour", readme: "# mini\n", wantErr: "no \"<!-- tour: begin -->\" line"},
		{name: "no end", readme: "<!-- tour: begin -->\n```\nls\n```\n", wantErr: "no \"<!-- tour: end -->\" line"},
		{name: "end inside a block", readme: "<!-- tour: begin -->\n```\nls\n<!-- tour: end -->\n```\n", wantErr: "inside a code block"},
		{name: "two tours", readme: "<!-- tour: begin -->\n<!-- tour: end -->\n<!-- tour: begin -->\n", wantErr: "a second"},
		{name: "empty", readme: "<!-- tour: begin -->\n```\n```\n<!-- tour: end -->\n", wantErr: "no commands"},
		{name: "continued line", readme: "<!-- tour: begin -->\n```\nls \\\n  -l\n```\n<!-- tour: end -->\n", wantErr: "one line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tourCommands(strings.NewReader(tc.readme))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("commands = %q, want %q", got, tc.want)
			}
		})
	}
}
