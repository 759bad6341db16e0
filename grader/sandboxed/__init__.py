"""The grader's only part that runs inside the grading sandbox, copied there whole (`grader.kit.sandbox_package`).

`worker` runs learners' notebooks and answers the judge; `remote` is the wall's protocol, both sides
of it (`Server` inside, `Remote` in the judge); `bans` switches off what an exercise forbids. They
import `mhsa_ref` and one another, nothing else of `grader`.
"""
