from hybridless.cli import main

raise SystemExit(main())
