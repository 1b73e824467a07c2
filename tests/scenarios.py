"""Agent scenarios shared by the recorder (tests/record_completions.py) and the replay tests."""

from __future__ import annotations

from agentlib.model import Module, Task

ADD = Task.from_asserts(
    "Write a function add(a, b) that returns the sum of a and b.",
    ["assert add(2, 3) == 5", "assert add(-1, 1) == 0"], id="add")

ADD_REPHRASED = Task.from_asserts(
    "Return the total of two numbers.",
    ["assert add(2, 3) == 5", "assert add(-1, 1) == 0"], id="add-rephrased")

PLUS_WRAPPER = Task.from_asserts(
    "Write a function plus(x, y) returning x + y.",
    ["assert plus(2, 3) == 5", "assert plus(10, -4) == 6"], id="plus")

# The description misleads (it says "add"), the tests want the product: the first
# candidate fails and the repair step must use the failing cases.
MISLEADING = Task.from_asserts(
    "Write a function combine(a, b) that combines two integers.",
    ["assert combine(2, 3) == 6", "assert combine(4, 5) == 20", "assert combine(0, 7) == 0"],
    id="misleading")

# A later task near the misleading one: the insight learned there is shown here.
COMBINE_SUM = Task.from_asserts(
    "Write a function merge_values(a, b) that combines two integers.",
    ["assert merge_values(3, 4) == 12", "assert merge_values(1, 9) == 9"], id="combine-sum")

IS_PRIME_SOURCE = '''def is_prime(n):
    """Return True when n is a prime number."""
    if n < 2:
        return False
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i += 1
    return True
'''

COUNT_PRIMES = Task.from_asserts(
    "Write a function count_primes(n) that counts the prime numbers below n. "
    "Use the library function is_prime(n).",
    ["assert count_primes(10) == 4", "assert count_primes(2) == 0", "assert count_primes(20) == 8"],
    id="count-primes")

SIMILAR = Task.from_asserts(
    "Write a function to find the shared elements from the given two lists.",
    ["assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))",
     "assert set(similar_elements((1, 2, 3, 4),(5, 4, 3, 7))) == set((3, 4))"],
    id="similar")


ADD_SOURCE = "def add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n    return a + b\n"


def add_module() -> Module:
    """The module that solves `ADD` (and `ADD_REPHRASED`), as stored after solving it."""
    from agentlib.code import docstring, module_id, signature

    return Module(id=module_id(ADD_SOURCE), name="add", source=ADD_SOURCE,
                  signature=signature(ADD_SOURCE, "add"), docstring=docstring(ADD_SOURCE, "add"),
                  tests=[t.source for t in ADD.tests], task_prompt=ADD.prompt, task_id="add")


def is_prime_module() -> Module:
    from agentlib.code import docstring, module_id, signature

    return Module(id=module_id(IS_PRIME_SOURCE), name="is_prime", source=IS_PRIME_SOURCE,
                  signature=signature(IS_PRIME_SOURCE, "is_prime"),
                  docstring=docstring(IS_PRIME_SOURCE, "is_prime"),
                  tests=["assert is_prime(7)", "assert not is_prime(9)", "assert not is_prime(1)"],
                  task_prompt="Check whether a number is prime.", task_id="seed")


# Raw prompts whose real small-model replies are kept for the extraction tests.
RAW_PROMPTS = {
    "prose_and_asserts": "Write a Python function run_lengths(xs) that returns the lengths of "
                         "runs of equal adjacent items, using itertools.groupby. Show an "
                         "example of using it with asserts.",
    "with_check": "Write a Python function is_palindrome(s). Then write a check() function "
                  "that tests it and call check().",
    "two_blocks": "Explain how to reverse the words of a sentence in Python, then give a "
                  "function reverse_words(s) and a second code block showing its usage.",
}


def _with_hidden(task: Task, hidden: list[str]) -> Task:
    from agentlib.model import TestCase

    return Task(prompt=task.prompt, tests=task.tests, id=task.id, entry_point=task.entry_point,
                hidden_tests=[TestCase(h) for h in hidden])


# A small stream for the benchmark test: hidden tests on two tasks.
BENCH_STREAM = [
    _with_hidden(ADD, ["assert add(10, 5) == 15", "assert add(0.5, 0.25) == 0.75"]),
    ADD_REPHRASED,
    _with_hidden(SIMILAR, ["assert set(similar_elements((1, 2), (3, 4))) == set()"]),
]
