package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"vwire.dev/vwire/client"
)

// ---- a profile rewire (a bulk job with one step per VM) and jobs: the
// job is followed with a progress bar on a terminal (plain lines
// otherwise), then summed up per VM; any VM that failed makes the exit
// code 1, and `vwire job retry` takes those VMs again.

// jobProgress is where a job's progress goes and whether it is a terminal
// (a bar redrawn in place) or not (a line each time the count moves);
// tests replace it.
var jobProgress = func() (io.Writer, bool) {
	return os.Stderr, term.IsTerminal(int(os.Stderr.Fd()))
}

// rewireCmds adds `profile rewire` to the profile group and the job group.
func (s *session) rewireCmds(root *cobra.Command) {
	var rf struct {
		to, cluster, search string
		w                   waitFlags
	}
	rewire := &cobra.Command{
		Use:               "rewire PROFILE --to PROFILE",
		Short:             "move every vNIC of a profile to another, live, as a job",
		Args:              nargs(1),
		ValidArgsFunction: s.complete("vnicprofiles"),
		RunE: s.do(func(k *cli, a []string) error {
			if rf.to == "" {
				return usageErr("usage: vwire profile rewire PROFILE --to PROFILE [--cluster C] [--search QUERY] [--no-wait] [--timeout DURATION]")
			}
			from, err := k.c.FindProfile(k.ctx, a[0])
			if err != nil {
				return err
			}
			to, err := k.c.FindProfile(k.ctx, rf.to)
			if err != nil {
				return err
			}
			spec := client.RewireSpec{ToID: to.MustId(), Search: rf.search}
			if rf.cluster != "" {
				cl, err := k.find("clusters", "cluster", rf.cluster)
				if err != nil {
					return err
				}
				spec.ClusterID = cl.ID
			}
			id, err := k.c.Rewire(k.ctx, from.MustId(), spec)
			if err != nil {
				return err
			}
			return k.followJob(id, &rf.w)
		}),
	}
	rewire.Flags().StringVar(&rf.to, "to", "", "the profile the vNICs move to (name or id)")
	rewire.Flags().StringVar(&rf.cluster, "cluster", "", "only the VMs of this cluster")
	rewire.Flags().StringVar(&rf.search, "search", "", `only the VMs this oVirt search selects ("name=web*")`)
	rf.w.register(rewire)
	rewire.Flags().Lookup("timeout").DefValue, rf.w.timeout = "30m0s", 30*time.Minute
	s.completeFlag(rewire, "to", "vnicprofiles")
	s.completeFlag(rewire, "cluster", "clusters")
	for _, c := range root.Commands() {
		if c.Name() == "profile" {
			c.AddCommand(rewire)
		}
	}

	job := group("job", "show, cancel or retry a job", "job show|cancel|retry ID")
	show := &cobra.Command{
		Use:   "show ID",
		Short: "a job and its steps (a rewire's: one per VM)",
		Args:  nargs(1),
		RunE: s.do(func(k *cli, a []string) error {
			j, err := k.c.Job(k.ctx, a[0])
			if err != nil {
				return err
			}
			steps, err := k.c.JobSteps(k.ctx, a[0])
			if err != nil {
				return err
			}
			// A read: the job's result is in what it prints, not the exit code.
			_, err = k.jobSummary(j, steps)
			return err
		}),
	}
	cancel := &cobra.Command{
		Use:   "cancel ID",
		Short: "stop a rewire: no more VMs start, the ones in progress finish",
		Args:  nargs(1),
		RunE: s.do(func(k *cli, a []string) error {
			j, err := k.c.CancelJob(k.ctx, a[0])
			if err != nil {
				return err
			}
			if j.Ended() {
				return k.done(jobView(j), "job %s has already ended %s", j.ID, j.Status)
			}
			return k.done(jobView(j), "job %s cancelled: the VMs in progress finish, then it ends aborted", j.ID)
		}),
	}
	var retryWait waitFlags
	retry := &cobra.Command{
		Use:   "retry ID",
		Short: "rewire again the VMs whose step failed, as a new job",
		Args:  nargs(1),
		RunE: s.do(func(k *cli, a []string) error {
			id, err := k.c.RetryJob(k.ctx, a[0])
			if err != nil {
				return err
			}
			return k.followJob(id, &retryWait)
		}),
	}
	retryWait.register(retry)
	retry.Flags().Lookup("timeout").DefValue, retryWait.timeout = "30m0s", 30*time.Minute
	job.AddCommand(show, cancel, retry)
	root.AddCommand(job)
}

// followJob watches a job to its end with a progress display, then sums
// it up; without waiting it names the job.
func (k *cli) followJob(id string, w *waitFlags) error {
	if !w.enabled() {
		j, err := k.c.Job(k.ctx, id)
		if err != nil {
			return err
		}
		return k.done(jobView(j), "job %s started: %s (vwire job show %s)", id, j.Description, id)
	}
	ctx, cancel := context.WithTimeout(k.ctx, w.timeout)
	defer cancel()
	out, tty := jobProgress()
	bar := &progressBar{out: out, tty: tty, start: time.Now(), last: -1}
	j, steps, err := k.c.WatchJob(ctx, id, pollInterval, bar.show)
	bar.clear()
	if errors.Is(err, context.DeadlineExceeded) && j != nil {
		return withCode(exitTimeout, fmt.Errorf("waited %s for job %s: still running, %s (--timeout; vwire job show %s, vwire job cancel %s)",
			w.timeout, id, progressText(steps), id, id))
	}
	if err != nil {
		return err
	}
	outcome, err := k.jobSummary(j, steps)
	if err != nil {
		return err
	}
	return outcome
}

// jobSummary prints a job per VM (VM, result, reason); outcome is an
// error (exit 1) for a job that did not finish (some VM failed, or it was
// cancelled), err one of printing.
func (k *cli) jobSummary(j *client.Job, steps []client.Step) (outcome, err error) {
	v := rewireView(j, steps)
	failed := 0
	for _, s := range v.Steps {
		if s.Result == "failed" {
			failed++
		}
	}
	err = k.print(v, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "VM\tRESULT\tREASON")
		for _, s := range v.Steps {
			reason := ""
			if s.Result == "failed" {
				reason = s.Detail
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", s.VM, s.Result, dash(reason))
		}
		fmt.Fprintf(w, "job %s %s: %s\n", j.ID, j.Status, j.Description)
	})
	if err != nil {
		return nil, err
	}
	switch j.Status {
	case "failed":
		return withCode(exitFailed, fmt.Errorf("%d of %d VMs failed (vwire job retry %s takes them again)", failed, len(steps), j.ID)), nil
	case "aborted":
		return withCode(exitFailed, fmt.Errorf("job %s was cancelled: %s", j.ID, progressText(steps))), nil
	}
	return nil, nil
}

// progressBar draws a job's progress: a bar redrawn in place on a
// terminal, a line per change of the count elsewhere (logs, CI).
type progressBar struct {
	out   io.Writer
	tty   bool
	start time.Time
	last  int // ended steps last shown
}

func progressText(steps []client.Step) string {
	ended, failed := 0, 0
	for _, s := range steps {
		if s.Ended() {
			ended++
		}
		if s.Status == "failed" {
			failed++
		}
	}
	t := fmt.Sprintf("%d/%d VMs done", ended, len(steps))
	if failed > 0 {
		t += fmt.Sprintf(", %d failed", failed)
	}
	return t
}

func (p *progressBar) show(j *client.Job, steps []client.Step) {
	if p.out == nil {
		return
	}
	ended := 0
	for _, s := range steps {
		if s.Ended() {
			ended++
		}
	}
	if !p.tty {
		if ended != p.last {
			fmt.Fprintf(p.out, "job %s: %s\n", j.ID, progressText(steps))
			p.last = ended
		}
		return
	}
	const width = 30
	filled := width
	if len(steps) > 0 {
		filled = width * ended / len(steps)
	}
	fmt.Fprintf(p.out, "\r\033[K[%s%s] %s, %s", strings.Repeat("#", filled), strings.Repeat("-", width-filled),
		progressText(steps), time.Since(p.start).Round(time.Second))
}

func (p *progressBar) clear() {
	if p.out != nil && p.tty {
		fmt.Fprint(p.out, "\r\033[K")
	}
}
