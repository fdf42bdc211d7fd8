package cli

import (
	"bufio"
	"context"
	"io"
	"sync"
)

// lineInput is the process's single reader of its standard input. Every
// prompt (the confirmation, manual steps, resume) reads through it, so two
// prompts never read the input at once and text typed ahead is kept for
// the next prompt instead of being lost in a discarded buffer.
type lineInput struct {
	once  sync.Once
	lines chan lineResult
}

type lineResult struct {
	s   string
	err error
}

func (l *lineInput) start(r io.Reader) {
	l.once.Do(func() {
		l.lines = make(chan lineResult)
		go func() {
			rd := bufio.NewReader(r)
			for {
				s, err := rd.ReadString('\n')
				l.lines <- lineResult{s, err}
				if err != nil {
					close(l.lines)
					return
				}
			}
		}()
	})
}

// readLine returns the next line of f.In (without waiting past ctx). At
// the end of input it returns what was left and io.EOF, then io.EOF again.
func (f *Factory) readLine(ctx context.Context) (string, error) {
	f.input.start(f.In)
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case r, ok := <-f.input.lines:
		if !ok {
			return "", io.EOF
		}
		return r.s, r.err
	}
}
