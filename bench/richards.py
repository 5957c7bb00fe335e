"""Richards-style operating-system simulation: a priority scheduler of tasks.

Six tasks (an idle task, a worker, two handlers and two devices) pass packets
to one another through per-task queues; each task is an object with a
priority and state flags, and the scheduler picks the highest-priority task
that can run.  Object-heavy: attribute reads and writes, method calls,
linked lists, small integer work.  The answer is the number of packets
queued and the number of times a task held itself.
"""

IDLE, WORKER, HANDLER_A, HANDLER_B, DEVICE_A, DEVICE_B = range(6)
WORK, DEVICE = 0, 1
DATA_SIZE = 4


class Packet:
    def __init__(self, link, dest, kind):
        self.link = link
        self.dest = dest
        self.kind = kind
        self.datum = 0
        self.data = [0] * DATA_SIZE

    def append_to(self, queue):
        """`queue` with this packet added at its end (the packet becomes the tail)."""
        self.link = None
        if queue is None:
            return self
        last = queue
        while last.link is not None:
            last = last.link
        last.link = self
        return queue


class Task:
    def __init__(self, sched, ident, priority, queue, waiting=False):
        self.ident = ident
        self.priority = priority
        self.queue = queue
        self.waiting = waiting
        self.holding = False
        self.link = sched.head
        sched.head = self
        sched.tasks[ident] = self

    def runnable(self):
        return not self.holding and (not self.waiting or self.queue is not None)

    def run(self, sched, packet):
        raise NotImplementedError


class IdleTask(Task):
    def __init__(self, sched, count):
        super().__init__(sched, IDLE, 0, None)
        self.count = count
        self.seed = 1

    def run(self, sched, packet):
        self.count -= 1
        if self.count == 0:
            return sched.hold_current()
        if self.seed & 1 == 0:
            self.seed >>= 1
            return sched.release(DEVICE_A)
        self.seed = (self.seed >> 1) ^ 0xD008
        return sched.release(DEVICE_B)


class WorkerTask(Task):
    def __init__(self, sched, queue):
        super().__init__(sched, WORKER, 1000, queue, waiting=True)
        self.handler = HANDLER_B
        self.letter = 0

    def run(self, sched, packet):
        if packet is None:
            return sched.wait_current()
        self.handler = HANDLER_A if self.handler == HANDLER_B else HANDLER_B
        packet.dest = self.handler
        packet.datum = 0
        for i in range(DATA_SIZE):
            self.letter += 1
            if self.letter > 26:
                self.letter = 1
            packet.data[i] = self.letter
        return sched.send(packet)


class HandlerTask(Task):
    def __init__(self, sched, ident, priority, queue):
        super().__init__(sched, ident, priority, queue, waiting=True)
        self.work = None
        self.devices = None

    def run(self, sched, packet):
        if packet is not None:
            if packet.kind == WORK:
                self.work = packet.append_to(self.work)
            else:
                self.devices = packet.append_to(self.devices)
        work = self.work
        if work is not None:
            if work.datum >= DATA_SIZE:
                self.work = work.link
                return sched.send(work)
            device = self.devices
            if device is not None:
                self.devices = device.link
                device.datum = work.data[work.datum]
                work.datum += 1
                return sched.send(device)
        return sched.wait_current()


class DeviceTask(Task):
    def __init__(self, sched, ident, priority):
        super().__init__(sched, ident, priority, None, waiting=True)
        self.pending = None

    def run(self, sched, packet):
        if packet is None:
            if self.pending is None:
                return sched.wait_current()
            done = self.pending
            self.pending = None
            return sched.send(done)
        self.pending = packet
        sched.output += packet.datum
        return sched.hold_current()


class Scheduler:
    def __init__(self):
        self.head = None
        self.tasks = [None] * 6
        self.current = None
        self.queued = 0
        self.holds = 0
        self.output = 0

    def hold_current(self):
        self.holds += 1
        self.current.holding = True
        return self.current.link

    def wait_current(self):
        self.current.waiting = True
        return self.current

    def release(self, ident):
        task = self.tasks[ident]
        task.holding = False
        if task.priority > self.current.priority:
            return task
        return self.current

    def send(self, packet):
        """Queue `packet` for the task it is addressed to; it comes back from it."""
        target = self.tasks[packet.dest]
        self.queued += 1
        packet.dest = self.current.ident
        was_empty = target.queue is None
        target.queue = packet.append_to(target.queue)
        if was_empty and target.priority > self.current.priority:
            return target
        return self.current

    def schedule(self):
        task = self.head
        while task is not None:
            if not task.runnable():
                task = task.link
                continue
            self.current = task
            packet = None
            if task.waiting:
                packet = task.queue
                task.queue = packet.link
                task.waiting = False
            task = task.run(self, packet)


def simulate(count):
    sched = Scheduler()
    IdleTask(sched, count)
    work = Packet(None, WORKER, WORK)
    work = Packet(work, WORKER, WORK)
    WorkerTask(sched, work)
    for ident, priority, dest in ((HANDLER_A, 2000, DEVICE_A), (HANDLER_B, 3000, DEVICE_B)):
        queue = None
        for _ in range(3):
            queue = Packet(queue, dest, DEVICE)
        HandlerTask(sched, ident, priority, queue)
    DeviceTask(sched, DEVICE_A, 4000)
    DeviceTask(sched, DEVICE_B, 5000)
    sched.schedule()
    return sched.queued, sched.holds, sched.output


def richards(count, rounds):
    results = [simulate(count) for _ in range(rounds)]
    assert all(r == results[0] for r in results)
    return results[0]


SIZES = {"full": (10000, 20), "quick": (10000, 4)}
EXPECTED = {"quick": (23256, 9301, 125482), "full": (23256, 9301, 125482)}


def main(size="full"):
    return richards(*SIZES[size])
