"""`python -m cleargate.stages <stage> --dataset NAME | --model NAME`: what every dvc.yaml command runs."""

from cleargate.stages.entry import main

raise SystemExit(main())
