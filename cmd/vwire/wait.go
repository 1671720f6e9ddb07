package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Waits: a VM's start and stop, a vNIC's plug and unplug are followed until
// the engine reports the state reached, within --timeout, with one updating
// progress line on stderr when stderr is a terminal.

type waitFlags struct {
	noWait  bool
	wait    bool
	timeout time.Duration
}

func (w *waitFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&w.wait, "wait", true, "wait until the state is reached")
	cmd.Flags().BoolVar(&w.noWait, "no-wait", false, "do not wait (same as --wait=false)")
	cmd.Flags().DurationVar(&w.timeout, "timeout", 2*time.Minute, "how long to wait at most (then exit 6)")
}

func (w *waitFlags) enabled() bool { return w.wait && !w.noWait }

// progress is where the progress line goes (nil: nowhere); tests replace it.
var progress = func() io.Writer {
	if term.IsTerminal(int(os.Stderr.Fd())) {
		return os.Stderr
	}
	return nil
}

// pollInterval is how often a wait asks the engine.
var pollInterval = 500 * time.Millisecond

// wait calls check until it says done, fails, or w.timeout passes (exit
// 6); check answers the state seen, in words.
func (k *cli) wait(w *waitFlags, what string, check func() (string, bool, error)) error {
	out := progress()
	start := time.Now()
	deadline := start.Add(w.timeout)
	state := ""
	defer func() {
		if out != nil {
			fmt.Fprint(out, "\r\033[K")
		}
	}()
	for {
		st, done, err := check()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		state = st
		if time.Now().After(deadline) {
			return withCode(exitTimeout, fmt.Errorf("waited %s for %s: still %s (--timeout)", w.timeout, what, state))
		}
		if out != nil {
			fmt.Fprintf(out, "\r\033[Kwaiting for %s: %s, %s", what, state, time.Since(start).Round(time.Second))
		}
		time.Sleep(pollInterval)
	}
}
