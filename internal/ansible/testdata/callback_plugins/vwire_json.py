# A stdout callback that prints the play's results as one JSON document, in
# the shape of ansible.posix's json callback (which ansible-core lacks): the
# test reads each task's module, outcome and message, and the stats.
import json

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
    name: vwire_json
    type: stdout
    short_description: the play's results as JSON
    description: each task's result on each host, and the stats, as one JSON document
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'vwire_json'

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.tasks = []

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.tasks.append({'task': {'name': task.get_name()}, 'hosts': {}})

    def _record(self, result, **extra):
        r = dict(result._result)
        r.update(extra)
        r['action'] = result._task.action
        if self.tasks:
            self.tasks[-1]['hosts'][result._host.get_name()] = r

    def v2_runner_on_ok(self, result):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)

    def v2_runner_on_unreachable(self, result):
        self._record(result, unreachable=True)

    def v2_playbook_on_stats(self, stats):
        out = {'plays': [{'tasks': self.tasks}], 'stats': {}}
        for h in sorted(stats.processed.keys()):
            s = stats.summarize(h)
            out['stats'][h] = {'ok': s['ok'], 'changed': s['changed'], 'failures': s['failures'],
                               'unreachable': s['unreachable'], 'skipped': s['skipped']}
        self._display.display(json.dumps(out, default=str))
