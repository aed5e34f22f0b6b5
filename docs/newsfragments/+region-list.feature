The --region_list flag (name=host pairs, as in Cactus) makes DescribeRegions list several regions.
