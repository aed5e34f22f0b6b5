DescribeAccountAttributes: supported-platforms EC2, default-vpc none, max-instances and max-elastic-ips from the project's quotas, and 0 for the VPC limits; AttributeName.N picks attributes.
